//! The API's one error type, mapped to HTTP here and nowhere else.
//!
//! Client-safe errors carry a type, a code, a message and the offending parameter.
//! Everything else is logged once, here, and answered as a bare 500 that leaks nothing.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use paylink_domain::ValidationError;
use paylink_store::{Conflict, StoreError};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub code: &'static str,
    pub message: String,
    pub param: Option<String>,
    /// Seconds, for 409/429 answers that say when to come back.
    pub retry_after: Option<u64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// `invalid_request_error`, `authentication_error`, `permission_error`, `not_found`,
    /// `conflict`, `gone`, `rate_limit_error`, `idempotency_error`, `processor_error`,
    /// `api_error`
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub code: &'static str,
    pub message: String,
    pub param: Option<String>,
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The codes of `invalid_request_error`s answered `422`: the request has a shape the
/// OpenAPI document allows, and what it names, its parts together or the merchant's state
/// and settings refuse it. Every other `invalid_request_error` is a `400`: the document
/// says what was wrong with it. One list, read by the answers and by the document.
pub const UNPROCESSABLE: &[&str] = &[
    // References to objects that do not exist (or are another merchant's).
    "customer_not_found",
    "invalid_cursor",
    "order_not_found",
    "product_not_found",
    "recipient_not_found",
    "tax_rate_not_found",
    // The state of what is named.
    "currency_mismatch",
    "expires_at_in_past",
    // A storefront of a catalog with nothing active in its currency (the fuzzer found it
    // once it had moved the merchant to a currency without products).
    "no_active_products",
    "parameter_immutable",
    "payments_limit_below_count",
    "refund_exceeds_payment",
    "tax_rate_inactive",
    // The merchant's settings and the mode (a redirect's host on the allowlist).
    "amount_out_of_bounds",
    "invalid_redirect_url",
    "locale_unsupported",
    "processor_not_available",
    // Rules across fields: one that needs another, two that do not go together.
    "invalid_payments_limit_for_order_link",
    "parameter_required",
    "parameters_exclusive",
    "parameters_inconsistent",
    "quantity_invalid",
    "webhook_url_refused",
    // Accounts: a password the estimator finds guessable, a current password or a
    // second-factor code that is not right (the document cannot say either).
    "incorrect_password",
    "password_too_weak",
    "totp_invalid",
];

/// `400`, or `422` for the codes of [`UNPROCESSABLE`].
pub fn invalid_status(code: &str) -> StatusCode {
    if UNPROCESSABLE.contains(&code) {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::BAD_REQUEST
    }
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            kind,
            code,
            message: message.into(),
            param: None,
            retry_after: None,
        }
    }

    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub fn invalid(
        code: &'static str,
        param: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(invalid_status(code), "invalid_request_error", code, message).with_param(param)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "resource_missing",
            format!("No such {what}"),
        )
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", code, message)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            code,
            message,
        )
    }

    /// `429 rate_limit_exceeded`, to come back after `wait` (at least a second).
    pub fn rate_limited(message: &str, wait: std::time::Duration) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            "rate_limit_exceeded",
            message,
        );
        e.retry_after = Some(wait.as_secs().max(1));
        e
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            "insufficient_permissions",
            message,
        )
    }

    /// An unexpected failure: logged here, once, and shown to nobody.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            "internal_error",
            "An internal error occurred",
        )
    }

    /// A reference in the request body to an object that does not exist.
    pub fn missing_reference(code: &'static str, param: impl Into<String>, what: &str) -> Self {
        Self::invalid(code, param, format!("No such {what}"))
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        Self {
            status: invalid_status(e.code),
            kind: "invalid_request_error",
            code: e.code,
            message: e.message,
            param: e.param,
            retry_after: None,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::not_found("object"),
            StoreError::InvalidCursor => ApiError::invalid(
                "invalid_cursor",
                "starting_after",
                "The pagination cursor does not name an object in this list",
            ),
            StoreError::Conflict(c) => ApiError::conflict(c.code(), conflict_message(c)),
            StoreError::Backend(e) => ApiError::internal(e),
        }
    }
}

fn conflict_message(c: Conflict) -> &'static str {
    match c {
        Conflict::SlugTaken => "That slug is already used by another payment link",
        Conflict::PaymentLinkHasPayments => "The payment link already has payments",
        Conflict::ConcurrentUpdate => "The object was changed by another request; retry",
        Conflict::DuplicateObject => "An object with the same unique value already exists",
        _ => "The request conflicts with the current state of the object",
    }
}

impl ApiError {
    fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                kind: self.kind,
                code: self.code,
                message: self.message.clone(),
                param: self.param.clone(),
            },
        }
    }

    /// The JSON body of this error, as it is answered.
    pub fn body_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.body()).unwrap_or_default()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.status, axum::Json(self.body())).into_response();
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                res.headers_mut().insert("retry-after", v);
            }
        }
        res
    }
}
