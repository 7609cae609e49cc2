//! Orders: a customer's unpaid bill that an `order` payment link can collect.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use serde::Deserialize;

use paylink_domain::catalog::{
    price_order_lines, Order, OrderLineDraft, OrderStatus, TaxRateSnapshot, MAX_QUANTITY,
};
use paylink_domain::event::{Event, EventType};
use paylink_domain::id::{CustomerId, OrderId, ProductId, TaxRateId};
use paylink_domain::metadata::Metadata;
use paylink_domain::money::{Amount, Currency};
use paylink_domain::tax::PricingMode;
use paylink_domain::text::bounded;
use paylink_domain::time::Timestamp;
use paylink_store::{Conflict, OrderFilter, StoreError, Tenant};

use super::path::PathId;
use super::routes::{list, params, reg, route, Route};
use super::{not_found_as, settings, List};
use crate::auth::Access::Scope;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::json::{created, ok, Json, Query};
use crate::list_query;
use crate::state::AppState;

/// The routes of this module's handlers (see [`super::routes`]).
pub(super) fn routes() -> Vec<Route> {
    let tag = "Catalog";
    vec![
        route(
            Method::POST,
            "/v1/orders",
            tag,
            "Create an order (emits order.created)",
            Scope("orders:write"),
            201,
            reg::<Order>,
            create_order,
        )
        .errors(
            400,
            &[
                "customer_not_found",
                "tax_rate_not_found",
                "tax_rate_inactive",
                "product_not_found",
                "currency_mismatch",
                "quantity_invalid",
                "amount_out_of_bounds",
            ],
        )
        .body(reg::<OrderIn>),
        route(
            Method::GET,
            "/v1/orders",
            tag,
            "List orders",
            Scope("orders:read"),
            200,
            list::<Order>,
            list_orders,
        )
        .query(params::<OrderListQuery>),
        route(
            Method::GET,
            "/v1/orders/{id}",
            tag,
            "Retrieve an order",
            Scope("orders:read"),
            200,
            reg::<Order>,
            get_order,
        ),
        route(
            Method::POST,
            "/v1/orders/{id}/cancel",
            tag,
            "Cancel an unpaid order",
            Scope("orders:write"),
            200,
            reg::<Order>,
            cancel_order,
        )
        .errors(409, &["invalid_state_transition", "order_being_paid"]),
    ]
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderLineIn {
    /// A catalog product (its name, price and tax rate are copied), or `name` and
    /// `unit_amount` for a custom line.
    pub product_id: Option<ProductId>,
    /// 1–250 characters, no control characters.
    #[schema(schema_with = line_name)]
    pub name: Option<String>,
    pub unit_amount: Option<Amount>,
    #[serde(default = "one")]
    pub quantity: u32,
}

crate::patch_text_schema!(line_name, 1, 250, paylink_domain::text::TEXT_PATTERN);

fn one() -> u32 {
    1
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderIn {
    pub customer_id: Option<CustomerId>,
    #[schema(min_items = 1, max_items = 100)]
    pub line_items: Vec<OrderLineIn>,
    pub currency: Option<Currency>,
    /// Applies to every line; otherwise each product line uses its product's rate.
    pub tax_rate_id: Option<TaxRateId>,
    pub pricing_mode: Option<PricingMode>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// Resolves a tax rate id into the snapshot a line keeps.
pub async fn tax_snapshot(
    state: &AppState,
    t: &Tenant,
    id: &TaxRateId,
    param: &str,
) -> ApiResult<TaxRateSnapshot> {
    let r = state
        .store
        .get_tax_rate(t, id)
        .await
        .map_err(|_| ApiError::missing_reference("tax_rate_not_found", param, "tax rate"))?;
    if !r.active {
        return Err(ApiError::invalid(
            "tax_rate_inactive",
            param,
            "The tax rate is inactive",
        ));
    }
    Ok(TaxRateSnapshot::from(&r))
}

pub async fn create_order(
    State(state): State<AppState>,
    auth: Auth,
    Json(input): Json<OrderIn>,
) -> ApiResult<Response> {
    let t = &auth.tenant;
    let settings = settings(&state, t).await?;
    let currency = input.currency.unwrap_or(settings.default_currency);
    if input.line_items.is_empty() || input.line_items.len() > 100 {
        return Err(ApiError::invalid(
            "parameter_invalid",
            "line_items",
            "An order needs 1–100 line items",
        ));
    }
    if let Some(c) = &input.customer_id {
        state.store.get_customer(t, c).await.map_err(|_| {
            ApiError::missing_reference("customer_not_found", "customer_id", "customer")
        })?;
    }
    let order_rate = match &input.tax_rate_id {
        Some(id) => Some(tax_snapshot(&state, t, id, "tax_rate_id").await?),
        None => None,
    };
    let mut drafts = Vec::with_capacity(input.line_items.len());
    for (i, l) in input.line_items.into_iter().enumerate() {
        let p = format!("line_items[{i}]");
        if l.quantity == 0 || l.quantity > MAX_QUANTITY {
            return Err(ApiError::invalid(
                "quantity_invalid",
                format!("{p}.quantity"),
                format!("`quantity` must be 1–{MAX_QUANTITY}"),
            ));
        }
        let draft = match (l.product_id, l.name, l.unit_amount) {
            (Some(pid), None, None) => {
                let prod = state.store.get_product(t, &pid).await.map_err(|_| {
                    ApiError::missing_reference(
                        "product_not_found",
                        format!("{p}.product_id"),
                        "product",
                    )
                })?;
                if prod.currency != currency {
                    return Err(currency_mismatch(
                        &format!("{p}.product_id"),
                        prod.currency,
                        currency,
                    ));
                }
                let tax_rate = match (&order_rate, &prod.tax_rate_id) {
                    (Some(r), _) => Some(r.clone()),
                    (None, Some(id)) => {
                        Some(tax_snapshot(&state, t, id, &format!("{p}.product_id")).await?)
                    }
                    (None, None) => None,
                };
                OrderLineDraft {
                    product_id: Some(pid),
                    name: prod.name,
                    unit_amount: prod.unit_amount,
                    quantity: l.quantity,
                    tax_rate,
                }
            }
            (None, Some(name), Some(unit_amount)) => {
                bounded(&name, &format!("{p}.name"), 1, 250)?;
                OrderLineDraft {
                    product_id: None,
                    name,
                    unit_amount,
                    quantity: l.quantity,
                    tax_rate: order_rate.clone(),
                }
            }
            _ => {
                return Err(ApiError::invalid(
                    "parameter_required",
                    p,
                    "Each line needs either `product_id`, or `name` and `unit_amount`",
                ))
            }
        };
        drafts.push(draft);
    }
    let rates = drafts.iter().filter_map(|d| d.tax_rate.as_ref());
    let mode = paylink_domain::tax::pricing_mode_of(
        input.pricing_mode,
        rates.map(|r| r.inclusive),
        settings.pricing_mode,
    )?;
    let (items, totals) = price_order_lines(drafts, mode).ok_or_else(|| {
        ApiError::invalid(
            "amount_too_large",
            "line_items",
            "The order total overflows the largest amount",
        )
    })?;
    let now = Timestamp::now();
    let order = Order {
        id: OrderId::generate(),
        customer_id: input.customer_id,
        line_items: items,
        currency,
        pricing_mode: mode,
        amount_subtotal: totals.amount_subtotal,
        amount_tax: totals.amount_tax,
        amount_total: totals.amount_total,
        status: OrderStatus::Unpaid,
        payment_id: None,
        metadata: Metadata::parse(input.metadata)?,
        livemode: t.livemode(),
        created_at: now,
        updated_at: now,
    };
    let ev = Event::new(EventType::OrderCreated, &order, t.livemode(), now);
    state.store.insert_order(t, &order, &[ev]).await?;
    Ok(created(&order))
}

pub fn currency_mismatch(param: &str, found: Currency, expected: Currency) -> ApiError {
    ApiError::invalid(
        "currency_mismatch",
        param,
        format!("This is priced in {found}, but the currency here is {expected}"),
    )
}

pub async fn get_order(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<OrderId>,
) -> ApiResult<Response> {
    Ok(ok(&state
        .store
        .get_order(&auth.tenant, &id)
        .await
        .map_err(not_found_as("order"))?))
}

pub async fn cancel_order(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<OrderId>,
) -> ApiResult<Response> {
    match state
        .store
        .cancel_order(&auth.tenant, &id, Timestamp::now())
        .await
    {
        Ok(o) => Ok(ok(&o)),
        Err(StoreError::NotFound) => Err(ApiError::not_found("order")),
        // The contract's code for an impossible transition, with the reason in words.
        Err(StoreError::Conflict(Conflict::OrderPaid)) => Err(ApiError::conflict(
            "invalid_state_transition",
            "An order that is `paid` cannot be canceled; refund its payment instead",
        )),
        Err(StoreError::Conflict(Conflict::OrderCancelled)) => Err(ApiError::conflict(
            "invalid_state_transition",
            "An order that is `canceled` cannot be canceled again",
        )),
        Err(StoreError::Conflict(Conflict::OrderBeingPaid)) => {
            let mut e = ApiError::conflict(
                "order_being_paid",
                "A customer is paying this order right now; try again in a moment",
            );
            e.retry_after = Some(5);
            Err(e)
        }
        Err(e) => Err(e.into()),
    }
}

list_query!(OrderListQuery {
    status: Option<OrderStatus>,
    customer_id: Option<CustomerId>,
});

pub async fn list_orders(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<OrderListQuery>,
) -> ApiResult<Response> {
    let customer_id = q.customer_id.clone();
    let f = OrderFilter {
        status: q.status.map(|s| s.as_str().to_owned()),
        customer_id,
    };
    let l = state
        .store
        .list_orders(&auth.tenant, &f, &q.page()?)
        .await?;
    Ok(ok(&List::new(l, "/v1/orders")))
}
