//! Every merchant route in one table: the router and the OpenAPI paths (`route_docs.rs`)
//! are both built from it, so a route cannot exist undocumented or be documented without
//! existing.

use axum::handler::Handler;
use axum::http::Method;
use axum::middleware;
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;
use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::{Ref, RefOr, Schema};
use utoipa::{IntoParams, ToSchema};

use super::*;
use crate::auth::Access::{self, Public, Scope, SecretKey};
use crate::state::AppState;
use paylink_domain::catalog::{Customer, Order, Product, TaxRate};
use paylink_domain::checkout::{Payment, Refund};
use paylink_domain::event::Event;
use paylink_domain::link::PaymentLink;
use paylink_domain::webhook::WebhookEndpoint;

pub type Schemas = Vec<(String, RefOr<Schema>)>;
type SchemaFn = fn(&mut Schemas) -> RefOr<Schema>;
type ParamsFn = fn() -> Vec<utoipa::openapi::path::Parameter>;

/// Registers `T` (and what it refers to) and returns a reference to it.
pub(super) fn reg<T: ToSchema>(c: &mut Schemas) -> RefOr<Schema> {
    c.push((T::name().into_owned(), T::schema()));
    T::schemas(c);
    RefOr::Ref(Ref::from_schema_name(T::name()))
}

/// A list envelope of `T`.
fn list<T: ToSchema>(c: &mut Schemas) -> RefOr<Schema> {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    let item = reg::<T>(c);
    ObjectBuilder::new()
        .property(
            "object",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["list"])),
        )
        .property("data", ArrayBuilder::new().items(item))
        .property("has_more", ObjectBuilder::new().schema_type(Type::Boolean))
        .property("url", ObjectBuilder::new().schema_type(Type::String))
        .required("object")
        .required("data")
        .required("has_more")
        .into()
}

/// The schema of an image answer.
fn binary(_: &mut Schemas) -> RefOr<Schema> {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
        .into()
}

fn params<P: IntoParams>() -> Vec<utoipa::openapi::path::Parameter> {
    P::into_params(|| Some(ParameterIn::Query))
}

pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub summary: &'static str,
    pub tag: &'static str,
    pub access: Access,
    pub body: Option<SchemaFn>,
    /// Whether a request without a body is answered as one with `{}` (every field
    /// optional, as Stripe takes a customer with nothing).
    pub body_optional: bool,
    pub status: u16,
    pub response: SchemaFn,
    /// The success answer's media type (JSON but for images).
    pub content_type: &'static str,
    pub query: Option<ParamsFn>,
    pub handler: MethodRouter<AppState>,
}

#[allow(clippy::too_many_arguments)]
fn route<H: Handler<T, AppState>, T: 'static>(
    method: Method,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    access: Access,
    status: u16,
    response: SchemaFn,
    handler: H,
) -> Route {
    let handler = on(filter(&method), handler);
    Route {
        method,
        path,
        summary,
        tag,
        access,
        body: None,
        body_optional: false,
        status,
        response,
        content_type: "application/json",
        query: None,
        handler,
    }
}

impl Route {
    fn body(mut self, f: SchemaFn) -> Self {
        self.body = Some(f);
        self
    }

    fn optional_body(mut self) -> Self {
        self.body_optional = true;
        self
    }

    fn query(mut self, f: ParamsFn) -> Self {
        self.query = Some(f);
        self
    }

    /// An answer that is an image, not JSON.
    fn image(mut self, content_type: &'static str) -> Self {
        self.content_type = content_type;
        self.response = binary;
        self
    }
}

fn filter(m: &Method) -> MethodFilter {
    match *m {
        Method::POST => MethodFilter::POST,
        Method::PATCH => MethodFilter::PATCH,
        Method::DELETE => MethodFilter::DELETE,
        _ => MethodFilter::GET,
    }
}

/// The merchant API's routes.
pub fn table() -> Vec<Route> {
    use catalog::*;
    use Method as M;
    let (get, post, patch, delete) = (M::GET, M::POST, M::PATCH, M::DELETE);
    let pl = "Payment links";
    let cat = "Catalog";
    let acct = "Account";
    vec![
        // payment links
        route(
            post.clone(),
            "/v1/payment_links",
            pl,
            "Create a payment link",
            Scope("payment_links:write"),
            201,
            reg::<PaymentLink>,
            payment_links::create_link,
        )
        .body(reg::<payment_links::PaymentLinkIn>),
        route(
            get.clone(),
            "/v1/payment_links",
            pl,
            "List payment links",
            Scope("payment_links:read"),
            200,
            list::<PaymentLink>,
            payment_links::list_links,
        )
        .query(params::<payment_links::LinkListQuery>),
        route(
            get.clone(),
            "/v1/payment_links/{id}",
            pl,
            "Retrieve a payment link",
            Scope("payment_links:read"),
            200,
            reg::<PaymentLink>,
            payment_links::get_link,
        ),
        route(
            patch.clone(),
            "/v1/payment_links/{id}",
            pl,
            "Update a payment link",
            Scope("payment_links:write"),
            200,
            reg::<PaymentLink>,
            payment_links::update_link,
        )
        .body(reg::<payment_links::PaymentLinkPatch>),
        route(
            delete.clone(),
            "/v1/payment_links/{id}",
            pl,
            "Delete a payment link without payments",
            Scope("payment_links:write"),
            200,
            reg::<Deleted>,
            payment_links::delete_link,
        ),
        route(
            post.clone(),
            "/v1/payment_links/{id}/activate",
            pl,
            "Activate a payment link",
            Scope("payment_links:write"),
            200,
            reg::<PaymentLink>,
            payment_links::activate_link,
        ),
        route(
            post.clone(),
            "/v1/payment_links/{id}/deactivate",
            pl,
            "Deactivate a payment link",
            Scope("payment_links:write"),
            200,
            reg::<PaymentLink>,
            payment_links::deactivate_link,
        ),
        route(
            post.clone(),
            "/v1/payment_links/{id}/cancel",
            pl,
            "Cancel a payment link (terminal)",
            Scope("payment_links:write"),
            200,
            reg::<PaymentLink>,
            payment_links::cancel_link,
        ),
        route(
            get.clone(),
            "/v1/payment_links/{id}/payments",
            pl,
            "List a link's payments",
            Scope("payments:read"),
            200,
            list::<Payment>,
            payments::list_link_payments,
        )
        .query(params::<payments::PaymentListQuery>),
        route(
            get.clone(),
            "/v1/payment_links/{id}/qr.svg",
            pl,
            "The link's QR code as SVG",
            Scope("payment_links:read"),
            200,
            reg::<String>,
            qr::svg,
        )
        .image("image/svg+xml")
        .query(params::<qr::QrQuery>),
        route(
            get.clone(),
            "/v1/payment_links/{id}/qr.png",
            pl,
            "The link's QR code as PNG",
            Scope("payment_links:read"),
            200,
            reg::<String>,
            qr::png,
        )
        .image("image/png")
        .query(params::<qr::QrQuery>),
        route(
            post.clone(),
            "/v1/payment_links/{id}/send",
            pl,
            "E-mail the link to customers",
            Scope("payment_links:write"),
            202,
            reg::<emails::Queued>,
            emails::send_link,
        )
        .body(reg::<emails::SendLinkIn>),
        route(
            post.clone(),
            "/v1/payments/{id}/receipt/send",
            "Payments",
            "E-mail the receipt",
            Scope("payments:read"),
            202,
            reg::<emails::Queued>,
            emails::send_receipt,
        )
        .body(reg::<emails::SendReceiptIn>),
        route(
            get.clone(),
            "/v1/emails",
            acct,
            "The e-mail outbox",
            Scope("payment_links:read"),
            200,
            list::<paylink_domain::email::Email>,
            emails::list_emails,
        )
        .query(params::<emails::EmailListQuery>),
        // payments
        route(
            get.clone(),
            "/v1/payments",
            "Payments",
            "List payments",
            Scope("payments:read"),
            200,
            list::<Payment>,
            payments::list_payments,
        )
        .query(params::<payments::PaymentListQuery>),
        route(
            get.clone(),
            "/v1/payments/{id}",
            "Payments",
            "Retrieve a payment",
            Scope("payments:read"),
            200,
            reg::<Payment>,
            payments::get_payment,
        ),
        route(
            post.clone(),
            "/v1/payments/{id}/refunds",
            "Payments",
            "Refund a payment, fully or partly",
            Scope("refunds:write"),
            201,
            reg::<Refund>,
            payments::refund,
        )
        .body(reg::<payments::RefundIn>),
        // products
        route(
            post.clone(),
            "/v1/products",
            cat,
            "Create a product",
            Scope("products:write"),
            201,
            reg::<Product>,
            create_product,
        )
        .body(reg::<ProductIn>),
        route(
            get.clone(),
            "/v1/products",
            cat,
            "List products",
            Scope("products:read"),
            200,
            list::<Product>,
            list_products,
        )
        .query(params::<ProductListQuery>),
        route(
            get.clone(),
            "/v1/products/{id}",
            cat,
            "Retrieve a product",
            Scope("products:read"),
            200,
            reg::<Product>,
            get_product,
        ),
        route(
            patch.clone(),
            "/v1/products/{id}",
            cat,
            "Update a product",
            Scope("products:write"),
            200,
            reg::<Product>,
            update_product,
        )
        .body(reg::<ProductPatch>),
        route(
            delete.clone(),
            "/v1/products/{id}",
            cat,
            "Archive a product",
            Scope("products:write"),
            200,
            reg::<Product>,
            archive_product,
        ),
        // customers
        route(
            post.clone(),
            "/v1/customers",
            cat,
            "Create a customer",
            Scope("customers:write"),
            201,
            reg::<Customer>,
            create_customer,
        )
        .body(reg::<CustomerIn>)
        .optional_body(),
        route(
            get.clone(),
            "/v1/customers",
            cat,
            "List customers",
            Scope("customers:read"),
            200,
            list::<Customer>,
            list_customers,
        )
        .query(params::<CustomerListQuery>),
        route(
            get.clone(),
            "/v1/customers/{id}",
            cat,
            "Retrieve a customer",
            Scope("customers:read"),
            200,
            reg::<Customer>,
            get_customer,
        ),
        route(
            patch.clone(),
            "/v1/customers/{id}",
            cat,
            "Update a customer",
            Scope("customers:write"),
            200,
            reg::<Customer>,
            update_customer,
        )
        .body(reg::<CustomerPatch>),
        route(
            delete.clone(),
            "/v1/customers/{id}",
            cat,
            "Delete a customer",
            Scope("customers:write"),
            200,
            reg::<Deleted>,
            delete_customer,
        ),
        // tax rates
        route(
            post.clone(),
            "/v1/tax_rates",
            cat,
            "Create a tax rate",
            Scope("tax_rates:write"),
            201,
            reg::<TaxRate>,
            create_tax_rate,
        )
        .body(reg::<TaxRateIn>),
        route(
            get.clone(),
            "/v1/tax_rates",
            cat,
            "List tax rates",
            Scope("tax_rates:read"),
            200,
            list::<TaxRate>,
            list_tax_rates,
        )
        .query(params::<TaxRateListQuery>),
        route(
            get.clone(),
            "/v1/tax_rates/{id}",
            cat,
            "Retrieve a tax rate",
            Scope("tax_rates:read"),
            200,
            reg::<TaxRate>,
            get_tax_rate,
        ),
        route(
            patch.clone(),
            "/v1/tax_rates/{id}",
            cat,
            "Update a tax rate",
            Scope("tax_rates:write"),
            200,
            reg::<TaxRate>,
            update_tax_rate,
        )
        .body(reg::<TaxRatePatch>),
        // orders
        route(
            post.clone(),
            "/v1/orders",
            cat,
            "Create an order (emits order.created)",
            Scope("orders:write"),
            201,
            reg::<Order>,
            orders::create_order,
        )
        .body(reg::<orders::OrderIn>),
        route(
            get.clone(),
            "/v1/orders",
            cat,
            "List orders",
            Scope("orders:read"),
            200,
            list::<Order>,
            orders::list_orders,
        )
        .query(params::<orders::OrderListQuery>),
        route(
            get.clone(),
            "/v1/orders/{id}",
            cat,
            "Retrieve an order",
            Scope("orders:read"),
            200,
            reg::<Order>,
            orders::get_order,
        ),
        route(
            post.clone(),
            "/v1/orders/{id}/cancel",
            cat,
            "Cancel an unpaid order",
            Scope("orders:write"),
            200,
            reg::<Order>,
            orders::cancel_order,
        ),
        // events
        route(
            get.clone(),
            "/v1/events",
            acct,
            "List events",
            Scope("events:read"),
            200,
            list::<Event>,
            events::list_events,
        )
        .query(params::<events::EventListQuery>),
        route(
            get.clone(),
            "/v1/events/{id}",
            acct,
            "Retrieve an event",
            Scope("events:read"),
            200,
            reg::<Event>,
            events::get_event,
        ),
        route(
            post.clone(),
            "/v1/events/{id}/redeliver",
            acct,
            "Queue an event for delivery again",
            Scope("webhooks:write"),
            202,
            reg::<webhook_endpoints::Redelivered>,
            webhook_endpoints::redeliver,
        ),
        // webhook endpoints
        route(
            post.clone(),
            "/v1/webhook_endpoints",
            "Webhooks",
            "Create a webhook endpoint (its secret is shown once)",
            Scope("webhooks:write"),
            201,
            reg::<webhook_endpoints::EndpointWithSecret>,
            webhook_endpoints::create_endpoint,
        )
        .body(reg::<webhook_endpoints::EndpointIn>),
        route(
            get.clone(),
            "/v1/webhook_endpoints",
            "Webhooks",
            "List webhook endpoints",
            Scope("webhooks:read"),
            200,
            list::<WebhookEndpoint>,
            webhook_endpoints::list_endpoints,
        ),
        route(
            get.clone(),
            "/v1/webhook_endpoints/{id}",
            "Webhooks",
            "Retrieve a webhook endpoint",
            Scope("webhooks:read"),
            200,
            reg::<WebhookEndpoint>,
            webhook_endpoints::get_endpoint,
        ),
        route(
            patch.clone(),
            "/v1/webhook_endpoints/{id}",
            "Webhooks",
            "Update a webhook endpoint",
            Scope("webhooks:write"),
            200,
            reg::<WebhookEndpoint>,
            webhook_endpoints::update_endpoint,
        )
        .body(reg::<webhook_endpoints::EndpointPatch>),
        route(
            delete.clone(),
            "/v1/webhook_endpoints/{id}",
            "Webhooks",
            "Delete a webhook endpoint",
            Scope("webhooks:write"),
            200,
            reg::<Deleted>,
            webhook_endpoints::delete_endpoint,
        ),
        route(
            post.clone(),
            "/v1/webhook_endpoints/{id}/rotate_secret",
            "Webhooks",
            "Rotate the signing secret (both sign during the overlap)",
            Scope("webhooks:write"),
            200,
            reg::<webhook_endpoints::EndpointWithSecret>,
            webhook_endpoints::rotate_secret,
        )
        .body(reg::<webhook_endpoints::RotateIn>),
        route(
            get.clone(),
            "/v1/webhook_endpoints/{id}/deliveries",
            "Webhooks",
            "List delivery attempts",
            Scope("webhooks:read"),
            200,
            list::<webhook_endpoints::AttemptOut>,
            webhook_endpoints::list_deliveries,
        ),
        // settings and keys
        route(
            get.clone(),
            "/v1/settings",
            acct,
            "Retrieve settings",
            Scope("settings:read"),
            200,
            reg::<settings::SettingsOut>,
            settings::get_settings,
        ),
        route(
            patch.clone(),
            "/v1/settings",
            acct,
            "Update settings",
            Scope("settings:write"),
            200,
            reg::<settings::SettingsOut>,
            settings::update_settings,
        )
        .body(reg::<settings::SettingsPatch>),
        route(
            post.clone(),
            "/v1/api_keys",
            acct,
            "Create an API key (shown once)",
            SecretKey,
            201,
            reg::<api_keys::ApiKeyOut>,
            api_keys::create_key,
        )
        .body(reg::<api_keys::ApiKeyIn>),
        route(
            get.clone(),
            "/v1/api_keys",
            acct,
            "List API keys (masked)",
            SecretKey,
            200,
            list::<api_keys::ApiKeyOut>,
            api_keys::list_keys,
        )
        .query(params::<api_keys::ApiKeyListQuery>),
        route(
            delete,
            "/v1/api_keys/{id}",
            acct,
            "Revoke an API key",
            SecretKey,
            200,
            reg::<Deleted>,
            api_keys::revoke_key,
        ),
    ]
}

/// The public JSON routes of the customer side: no key, limited per client IP.
pub fn public_table() -> Vec<Route> {
    use crate::checkout::api as public;
    let tag = "Public checkout";
    vec![
        route(
            Method::GET,
            "/api/public/links/{slug}",
            tag,
            "Preview a payment link",
            Public,
            200,
            reg::<public::Preview>,
            public::preview,
        )
        .query(params::<public::PreviewQuery>),
        route(
            Method::POST,
            "/api/public/links/{slug}/checkout",
            tag,
            "Start a checkout (holds one use and the stock)",
            Public,
            201,
            reg::<public::CheckoutOut>,
            public::start,
        )
        .body(reg::<public::CheckoutIn>),
        route(
            Method::POST,
            "/api/public/checkout_sessions/{id}/pay",
            tag,
            "Pay a checkout session",
            Public,
            200,
            reg::<public::PayOut>,
            public::pay,
        )
        .body(reg::<public::PayIn>),
    ]
}

/// The router of the public table.
pub fn public_router() -> Router<AppState> {
    public_table()
        .into_iter()
        .fold(Router::new(), |r, route| r.route(route.path, route.handler))
}

/// The authenticated router of the table. Each route decides who may call it before its
/// idempotency layer looks at any stored answer, so a replay can never hand a caller what
/// it could not have asked for.
pub fn router(state: &AppState) -> Router<AppState> {
    let mut router = Router::new();
    for r in table() {
        let access = r.access;
        let handler = r
            .handler
            .route_layer(middleware::from_fn_with_state(
                state.clone(),
                crate::idempotency::layer,
            ))
            .route_layer(middleware::from_fn(move |req, next| {
                crate::auth::authorize(access, req, next)
            }));
        router = router.route(r.path, handler);
    }
    router
}
