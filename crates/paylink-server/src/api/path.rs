//! The `{id}` of a route's path, parsed at the edge into the id type its handler needs.
//!
//! A segment that is not an id of that type (another prefix, the wrong length or alphabet,
//! junk) can name nothing, so it is answered as an unknown id is: the API's JSON
//! `404 resource_missing`, "No such payment link". Handlers never see the raw string.
//!
//! Extractors run in argument order: a handler lists `PathId` after its `Query`, so a bad
//! query is still answered first, as before; a JSON body is always read last, so a
//! malformed id is a 404 whatever the body holds.

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;

use paylink_domain::id::{
    ApiKeyId, CheckoutSessionId, CustomerId, EventId, InvitationId, OrderId, PaymentId,
    PaymentLinkId, ProductId, SessionId, SubscriptionId, TaxRateId, UserId, WebhookEndpointId,
};

use crate::error::ApiError;

/// An id type a path may carry, with the words of its 404.
pub trait PathIdKind: Sized {
    /// What a 404 says there is no such of ("No such payment link").
    const WHAT: &'static str;
    fn parse(raw: &str) -> Option<Self>;
}

macro_rules! path_id_kinds {
    ($($ty:ty => $what:literal),* $(,)?) => {
        $(
            impl PathIdKind for $ty {
                const WHAT: &'static str = $what;
                fn parse(raw: &str) -> Option<Self> {
                    <$ty>::parse(raw)
                }
            }
        )*
    };
}

path_id_kinds! {
    ApiKeyId => "API key",
    CheckoutSessionId => "checkout session",
    CustomerId => "customer",
    EventId => "event",
    OrderId => "order",
    PaymentId => "payment",
    PaymentLinkId => "payment link",
    ProductId => "product",
    SubscriptionId => "subscription",
    TaxRateId => "tax rate",
    WebhookEndpointId => "webhook endpoint",
    SessionId => "session",
    InvitationId => "invitation",
    UserId => "member",
}

/// The route's `{id}`, parsed as a `T`; anything else is `404 resource_missing`.
pub struct PathId<T>(pub T);

impl<T: PathIdKind, S: Send + Sync> FromRequestParts<S> for PathId<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        // Bytes that are not UTF-8 cannot be an id either (the edge refuses them first,
        // with a 400 that says why; this stays right without it).
        let Ok(params) = RawPathParams::from_request_parts(parts, state).await else {
            return Err(ApiError::not_found(T::WHAT));
        };
        let raw = params
            .iter()
            .find(|(name, _)| *name == "id")
            .map(|(_, v)| v);
        match raw {
            Some(raw) => T::parse(raw)
                .map(PathId)
                .ok_or_else(|| ApiError::not_found(T::WHAT)),
            None => Err(ApiError::internal(format!(
                "{} has no {{id}} in its path",
                parts.uri.path()
            ))),
        }
    }
}
