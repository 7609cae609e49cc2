//! Sending links and receipts by e-mail, and the e-mail outbox.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use paylink_domain::email::{Email, EmailStatus};
use paylink_domain::event::{Event, EventType};
use paylink_domain::id::{CustomerId, PaymentId, PaymentLinkId};
use paylink_domain::text::{bounded_opt, email as check_email};
use paylink_domain::time::Timestamp;

use super::path::PathId;
use super::payment_links::present;
use super::routes::{list, params, reg, route, Route};
use super::{not_found_as, settings, List};
use crate::auth::Access::Scope;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::json::{ok, reply, Json, Query};
use crate::list_query;
use crate::state::AppState;

/// The routes of this module's handlers (see [`super::routes`]).
pub(super) fn routes() -> Vec<Route> {
    vec![
        route(
            Method::POST,
            "/v1/payment_links/{id}/send",
            "Payment links",
            "E-mail the link to customers",
            Scope("payment_links:write"),
            202,
            reg::<Queued>,
            send_link,
        )
        .errors(
            400,
            &[
                "recipient_not_found",
                "parameter_required",
                "parameters_exclusive",
            ],
        )
        .body(reg::<SendLinkIn>),
        route(
            Method::POST,
            "/v1/payments/{id}/receipt/send",
            "Payments",
            "E-mail the receipt",
            Scope("payments:write"),
            202,
            reg::<Queued>,
            send_receipt,
        )
        .body(reg::<SendReceiptIn>),
        route(
            Method::GET,
            "/v1/emails",
            "Account",
            "The e-mail outbox",
            Scope("payment_links:read"),
            200,
            list::<Email>,
            list_emails,
        )
        .query(params::<EmailListQuery>),
    ]
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Recipient {
    pub customer_id: Option<CustomerId>,
    #[schema(
        max_length = 254,
        pattern = r"^[^@\s\u0000-\u001F\u007F-\u009F]+@[^@.\s\u0000-\u001F\u007F-\u009F][^@\s\u0000-\u001F\u007F-\u009F]*\.[^@\s\u0000-\u001F\u007F-\u009F]*[^@.\s\u0000-\u001F\u007F-\u009F]$"
    )]
    pub email: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendLinkIn {
    /// 1–50 recipients, each `{customer_id}` or `{email}`. (Parsed as empty when absent so
    /// that an unknown link answers 404 before the list is judged.)
    #[serde(default)]
    #[schema(required = true, min_items = 1, max_items = 50)]
    pub recipients: Vec<Recipient>,

    /// A note shown above the link (≤ 1000 characters).
    #[schema(
        min_length = 1,
        max_length = 1000,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub message: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct SendReceiptIn {
    /// Default: the e-mail the customer gave at checkout.
    #[schema(
        max_length = 254,
        pattern = r"^[^@\s\u0000-\u001F\u007F-\u009F]+@[^@.\s\u0000-\u001F\u007F-\u009F][^@\s\u0000-\u001F\u007F-\u009F]*\.[^@\s\u0000-\u001F\u007F-\u009F]*[^@.\s\u0000-\u001F\u007F-\u009F]$"
    )]
    pub email: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Queued {
    #[schema(value_type = String, example = "email_batch")]
    pub object: &'static str,
    /// `false` when no SMTP server is configured: the messages are held in the outbox.
    pub email_configured: bool,
    pub emails: Vec<Email>,
}

fn status(state: &AppState) -> EmailStatus {
    state.outbox_status()
}

pub async fn send_link(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<PaymentLinkId>,
    Json(input): Json<SendLinkIn>,
) -> ApiResult<Response> {
    let t = &auth.tenant;
    let link = state
        .store
        .get_payment_link(t, &id)
        .await
        .map_err(not_found_as("payment link"))?
        .value;
    if input.recipients.is_empty() || input.recipients.len() > 50 {
        return Err(ApiError::invalid(
            "parameter_invalid",
            "recipients",
            "Send to 1–50 recipients",
        ));
    }
    bounded_opt(input.message.as_deref(), "message", 1, 1000)?;
    let settings = settings(&state, t).await?;
    let now = Timestamp::now();
    let shown = present(&state, link, now);
    let mut emails = Vec::with_capacity(input.recipients.len());
    for (i, r) in input.recipients.iter().enumerate() {
        let param = format!("recipients[{i}]");
        let to = match (&r.customer_id, &r.email) {
            (Some(c), None) => {
                let customer = state.store.get_customer(t, c).await.map_err(|_| {
                    ApiError::invalid(
                        "recipient_not_found",
                        format!("{param}.customer_id"),
                        "No such customer",
                    )
                })?;
                customer.email.ok_or_else(|| {
                    ApiError::invalid(
                        "recipient_not_found",
                        format!("{param}.customer_id"),
                        "The customer has no e-mail address",
                    )
                })?
            }
            (None, Some(e)) => {
                check_email(e, &format!("{param}.email"))?;
                e.clone()
            }
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid(
                    "parameters_exclusive",
                    param,
                    "Each recipient needs `customer_id` or `email`, not both",
                ))
            }
            (None, None) => {
                return Err(ApiError::invalid(
                    "parameter_required",
                    param,
                    "Each recipient needs `customer_id` or `email`",
                ))
            }
        };
        let mut e = crate::email::link_email(
            &settings,
            &shown,
            &shown.url,
            &to,
            input.message.as_deref(),
            now,
        )
        .map_err(ApiError::internal)?;
        e.status = status(&state);
        emails.push(e);
    }
    let sent = serde_json::json!({"payment_link": shown, "recipients": emails.iter().map(|e| &e.to).collect::<Vec<_>>()});
    let ev = Event::new(EventType::PaymentLinkSent, &sent, t.livemode(), now);
    state.store.queue_emails(t, &emails, &[ev]).await?;
    Ok(reply(
        StatusCode::ACCEPTED,
        &Queued {
            object: "email_batch",
            email_configured: state.config.smtp_url.is_some(),
            emails,
        },
    ))
}

pub async fn send_receipt(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<PaymentId>,
    Json(input): Json<SendReceiptIn>,
) -> ApiResult<Response> {
    let t = &auth.tenant;
    let p = state
        .store
        .get_payment(t, &id)
        .await
        .map_err(not_found_as("payment"))?;
    if p.receipt_number.is_none() {
        return Err(ApiError::conflict(
            "no_receipt",
            "Only a succeeded payment has a receipt",
        ));
    }
    let to = match input.email.or_else(|| p.customer.email.clone()) {
        Some(e) => {
            check_email(&e, "email")?;
            e
        }
        None => {
            return Err(ApiError::invalid(
                "parameter_missing",
                "email",
                "The payment has no e-mail address; give one",
            ))
        }
    };
    let settings = settings(&state, t).await?;
    let mut e = crate::email::receipt_email(
        &settings,
        &p,
        p.receipt_number.as_deref().unwrap_or_default(),
        &to,
        Timestamp::now(),
    )
    .map_err(ApiError::internal)?;
    e.status = status(&state);
    state
        .store
        .queue_emails(t, std::slice::from_ref(&e), &[])
        .await?;
    Ok(reply(
        StatusCode::ACCEPTED,
        &Queued {
            object: "email_batch",
            email_configured: state.config.smtp_url.is_some(),
            emails: vec![e],
        },
    ))
}

list_query!(EmailListQuery {
    status: Option<EmailStatus>,
});

pub async fn list_emails(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<EmailListQuery>,
) -> ApiResult<Response> {
    let mut l = state
        .store
        .list_emails(
            &auth.tenant,
            q.status.map(|s| s.as_str()),
            // Resets and invitations are the team's managers' to see (their bodies are
            // sealed; that someone asked for a reset is still not every member's business).
            auth.has_scope("team:write"),
            &q.page()?,
        )
        .await?;
    // Receipts not sent yet are composed as they would be sent now; one that cannot be
    // (its payment is gone) is listed as it is rather than failing the list.
    for e in &mut l.data {
        if let Err(err) = crate::email::compose(&state, e).await {
            tracing::warn!(email.id = %e.id, error = %err, "composing a receipt failed");
        }
    }
    Ok(ok(&List::new(l, "/v1/emails")))
}
