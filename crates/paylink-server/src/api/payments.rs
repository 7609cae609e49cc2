//! Payments and refunds, for the merchant.

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use serde::Deserialize;

use paylink_domain::checkout::{Payment, PaymentStatus, Refund};
use paylink_domain::id::{PaymentId, PaymentLinkId, RefundId};
use paylink_domain::money::Amount;
use paylink_domain::states::{self, RefundRefusal};
use paylink_domain::time::Timestamp;
use paylink_store::{Conflict, Listed, PaymentFilter, StoreError};

use super::path::PathId;
use super::routes::{list, params, reg, route, Route};
use super::{not_found_as, List};
use crate::auth::Access::Scope;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::json::{created, ok, Json, Query};
use crate::list_query;
use crate::state::AppState;

/// The routes of this module's handlers (see [`super::routes`]).
pub(super) fn routes() -> Vec<Route> {
    let tag = "Payments";
    vec![
        route(
            Method::GET,
            "/v1/payments",
            tag,
            "List payments",
            Scope("payments:read"),
            200,
            list::<Payment>,
            list_payments,
        )
        .query(params::<PaymentListQuery>),
        route(
            Method::GET,
            "/v1/payments/{id}",
            tag,
            "Retrieve a payment",
            Scope("payments:read"),
            200,
            reg::<Payment>,
            get_payment,
        ),
        route(
            Method::POST,
            "/v1/payments/{id}/refunds",
            tag,
            "Refund a payment, fully or partly",
            Scope("refunds:write"),
            201,
            reg::<Refund>,
            refund,
        )
        .errors(400, &["amount_invalid", "refund_exceeds_payment"])
        .errors(409, &["payment_not_refundable"])
        .errors(502, &["refund_failed", "refund_outcome_unknown"])
        .body(reg::<RefundIn>),
    ]
}

list_query!(PaymentListQuery with created {
    payment_link_id: Option<PaymentLinkId>,
    status: Option<PaymentStatus>,
    /// A customer: their id (`cus_…`, matched by the customer's e-mail) or the e-mail given
    /// at checkout, compared without case (ASCII letters). Blank: no filter; anything else
    /// matches the payments with that e-mail (none, if it is not one).
    #[param(max_length = 254, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    customer: Option<String>,
});

/// The e-mail a `customer` filter stands for; `None` when it can match nothing (a customer
/// of another merchant or mode, or one without an e-mail).
async fn customer_email(
    state: &AppState,
    auth: &Auth,
    customer: &str,
) -> ApiResult<Option<String>> {
    if customer.len() > 254 || customer.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "parameter_invalid",
            "customer",
            "`customer` must be a customer id or an e-mail address (at most 254 characters)",
        ));
    }
    let Some(id) = paylink_domain::id::CustomerId::parse(customer) else {
        // An e-mail, or text that is none (it matches no payment).
        return Ok(Some(customer.to_owned()));
    };
    match state.store.get_customer(&auth.tenant, &id).await {
        Ok(c) => Ok(c.email),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// A page of payments, all of them or one link's (`link`), answered as a list at `url`.
pub(super) async fn list_page(
    state: &AppState,
    auth: &Auth,
    q: &PaymentListQuery,
    link: Option<PaymentLinkId>,
    url: &str,
) -> ApiResult<Response> {
    let customer_email = match q
        .customer
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        Some(c) => match customer_email(state, auth, c).await? {
            Some(e) => Some(e),
            // Nobody's payments: an empty page.
            None => {
                let none: Listed<Payment> = Listed {
                    data: Vec::new(),
                    has_more: false,
                };
                return Ok(ok(&List::new(none, url)));
            }
        },
        None => None,
    };
    let f = PaymentFilter {
        payment_link_id: link.or_else(|| q.payment_link_id.clone()),
        status: q.status.map(|s| s.as_str().to_owned()),
        created: q.created()?,
        customer_email,
    };
    let l = state
        .store
        .list_payments(&auth.tenant, &f, &q.page()?)
        .await?;
    Ok(ok(&List::new(l, url)))
}

pub async fn list_payments(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<PaymentListQuery>,
) -> ApiResult<Response> {
    list_page(&state, &auth, &q, None, "/v1/payments").await
}

pub async fn get_payment(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<PaymentId>,
) -> ApiResult<Response> {
    Ok(ok(&state
        .store
        .get_payment(&auth.tenant, &id)
        .await
        .map_err(not_found_as("payment"))?))
}

#[derive(Deserialize, utoipa::ToSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum RefundReason {
    Duplicate,
    Fraudulent,
    RequestedByCustomer,
}

impl RefundReason {
    fn as_str(self) -> &'static str {
        match self {
            RefundReason::Duplicate => "duplicate",
            RefundReason::Fraudulent => "fraudulent",
            RefundReason::RequestedByCustomer => "requested_by_customer",
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundIn {
    /// Default: everything not yet refunded.
    pub amount: Option<Amount>,
    pub reason: Option<RefundReason>,
}

fn not_refundable() -> ApiError {
    ApiError::conflict(
        "payment_not_refundable",
        "Only a succeeded payment not yet refunded in full can be refunded",
    )
}

/// What is left to refund of `p`, as the error says it.
fn exceeds(p: &Payment) -> ApiError {
    let left = p
        .amount
        .checked_sub(p.amount_refunded)
        .unwrap_or(Amount::ZERO);
    ApiError::invalid(
        "refund_exceeds_payment",
        "amount",
        format!("At most {} can still be refunded", p.currency.format(left)),
    )
}

/// Refunds part or all of a payment; the refunded total never exceeds what was paid.
/// The refund is reserved in the database first, so two racing refunds cannot both pass.
pub async fn refund(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<PaymentId>,
    Json(input): Json<RefundIn>,
) -> ApiResult<Response> {
    let t = &auth.tenant;
    let p = state
        .store
        .get_payment(t, &id)
        .await
        .map_err(not_found_as("payment"))?;
    let remaining = p
        .amount
        .checked_sub(p.amount_refunded)
        .unwrap_or(Amount::ZERO);
    let amount = input.amount.unwrap_or(remaining);
    // The domain's rule first, so the answer names the real reason (a payment refunded in
    // full is not refundable, whatever the amount asked); the store checks it again.
    states::refund(p.status, p.amount, p.amount_refunded, amount).map_err(|e| match e {
        RefundRefusal::NotRefundable => not_refundable(),
        RefundRefusal::Empty => ApiError::invalid(
            "amount_invalid",
            "amount",
            "A refund must be at least one minor unit",
        ),
        RefundRefusal::ExceedsPayment => exceeds(&p),
    })?;
    let reference = p
        .processor_reference
        .clone()
        .filter(|_| p.status != PaymentStatus::Failed);
    let Some(reference) = reference else {
        return Err(not_refundable());
    };
    let r = Refund {
        id: RefundId::generate(),
        payment_id: id,
        amount,
        currency: p.currency,
        reason: input.reason.map(|r| r.as_str().to_owned()),
        status: "succeeded".into(),
        processor_reference: String::new(),
        livemode: t.livemode(),
        created_at: Timestamp::now(),
    };
    match state.store.insert_refund(t, &r).await {
        // Another refund got in first: say what is left now, not what was when we read.
        Err(StoreError::Conflict(Conflict::RefundExceedsPayment)) => {
            return Err(exceeds(&state.store.get_payment(t, &r.payment_id).await?))
        }
        Err(StoreError::Conflict(Conflict::PaymentNotRefundable)) => return Err(not_refundable()),
        r => {
            r?;
        }
    }
    let processor = match crate::stripe::processor_named(&state, t, &p.processor).await {
        Ok(processor) => processor,
        Err(e) => {
            state.store.revert_refund(t, &r).await?;
            return Err(e);
        }
    };
    // An unanswered call may have refunded: it is asked again under the same key (the
    // processor makes it once), never reverted on a guess.
    let mut outcome = processor
        .refund(&reference, amount, p.currency, r.id.as_str())
        .await;
    for wait in [300, 1_000] {
        if !matches!(
            outcome,
            Err(paylink_processors::ProcessorError::Retryable(_))
        ) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
        outcome = processor
            .refund(&reference, amount, p.currency, r.id.as_str())
            .await;
    }
    match outcome {
        Ok(processor_reference) => Ok(created(&Refund {
            processor_reference,
            ..r
        })),
        Err(paylink_processors::ProcessorError::Retryable(_)) => {
            tracing::error!(refund.id = %r.id, payment.id = %r.payment_id, "the processor did not answer a refund: kept as recorded, check it at the processor");
            Err(ApiError::new(
                axum::http::StatusCode::BAD_GATEWAY,
                "processor_error",
                "refund_outcome_unknown",
                format!("The processor did not answer; the refund {} stays recorded (it is asked for once, under one key). Check the payment at the processor before refunding again", r.id),
            ))
        }
        Err(e) => {
            state.store.revert_refund(t, &r).await?;
            Err(ApiError::new(
                axum::http::StatusCode::BAD_GATEWAY,
                "processor_error",
                "refund_failed",
                format!("The processor refused the refund: {e}"),
            ))
        }
    }
}
