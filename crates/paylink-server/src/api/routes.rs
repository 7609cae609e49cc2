//! Every route in one table: the router and the OpenAPI paths (`route_docs.rs`) are both
//! built from it, so a route cannot exist undocumented or be documented without existing.
//!
//! Each resource's module declares its own routes next to its handlers (`routes()` at the
//! top of `payment_links.rs`, `catalog.rs`, …, and `checkout/api.rs` for the public ones),
//! with the builder here: [`route`] and its `.body`, `.query`, `.optional_body` and
//! `.image`, and the schema helpers [`reg`], [`list`] and [`params`].

use axum::handler::Handler;
use axum::http::Method;
use axum::middleware;
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;
use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::{Ref, RefOr, Schema};
use utoipa::{IntoParams, ToSchema};

use super::{api_keys, catalog, emails, events, orders, payment_links, payments, qr};
use super::{processors, reports, settings, subscriptions, webhook_endpoints};
use crate::auth::Access;
use crate::state::AppState;

pub type Schemas = Vec<(String, RefOr<Schema>)>;
type SchemaFn = fn(&mut Schemas) -> RefOr<Schema>;
type ParamsFn = fn() -> Vec<utoipa::openapi::path::Parameter>;

/// Registers `T` (and what it refers to) and returns a reference to it.
pub(crate) fn reg<T: ToSchema>(c: &mut Schemas) -> RefOr<Schema> {
    c.push((T::name().into_owned(), T::schema()));
    T::schemas(c);
    RefOr::Ref(Ref::from_schema_name(T::name()))
}

/// A list envelope of `T`.
pub(crate) fn list<T: ToSchema>(c: &mut Schemas) -> RefOr<Schema> {
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

pub(crate) fn params<P: IntoParams>() -> Vec<utoipa::openapi::path::Parameter> {
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
    /// Error codes this route answers beyond those every route of its kind does (see
    /// `route_docs`), by status.
    pub errors: Vec<(u16, &'static [&'static str])>,
    /// Answers other than the success and the error body (the pay route's `402`).
    pub answers: Vec<(u16, &'static str, SchemaFn)>,
    pub handler: MethodRouter<AppState>,
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn route<H: Handler<T, AppState>, T: 'static>(
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
        errors: Vec::new(),
        answers: Vec::new(),
        handler,
    }
}

impl Route {
    pub(crate) fn body(mut self, f: SchemaFn) -> Self {
        self.body = Some(f);
        self
    }

    pub(crate) fn optional_body(mut self) -> Self {
        self.body_optional = true;
        self
    }

    pub(crate) fn query(mut self, f: ParamsFn) -> Self {
        self.query = Some(f);
        self
    }

    /// Error codes this route answers with `status`, beyond the ones every route of its
    /// kind answers.
    pub(crate) fn errors(mut self, status: u16, codes: &'static [&'static str]) -> Self {
        self.errors.push((status, codes));
        self
    }

    /// Another answer than the success and the error body.
    pub(crate) fn answer(mut self, status: u16, description: &'static str, f: SchemaFn) -> Self {
        self.answers.push((status, description, f));
        self
    }

    /// An answer that is an image, not JSON.
    pub(crate) fn image(mut self, content_type: &'static str) -> Self {
        self.content_type = content_type;
        self.response = binary;
        self
    }
}

fn filter(m: &Method) -> MethodFilter {
    match *m {
        Method::POST => MethodFilter::POST,
        Method::PATCH => MethodFilter::PATCH,
        Method::PUT => MethodFilter::PUT,
        Method::DELETE => MethodFilter::DELETE,
        _ => MethodFilter::GET,
    }
}

/// The merchant API's routes, each module's in turn. The order is the OpenAPI document's
/// order of paths: a new module's routes go where its paths should be listed.
pub fn table() -> Vec<Route> {
    [
        payment_links::routes(),
        qr::routes(),
        emails::routes(),
        payments::routes(),
        reports::routes(),
        catalog::routes(),
        orders::routes(),
        subscriptions::routes(),
        events::routes(),
        webhook_endpoints::routes(),
        settings::routes(),
        processors::routes(),
        api_keys::routes(),
        crate::accounts::routes(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The public JSON routes of the customer side: no key, limited per client IP.
pub fn public_table() -> Vec<Route> {
    let mut routes = crate::checkout::api::routes();
    routes.extend(crate::accounts::public_routes());
    routes
}

/// The route's handler; one that documents no body refuses any but nothing or `{}`
/// ([`crate::json::no_body`]), as the handler's own extractor would.
fn handler(r: Route) -> MethodRouter<AppState> {
    if r.body.is_none() && r.method != Method::GET {
        r.handler
            .route_layer(middleware::from_fn(crate::json::no_body))
    } else {
        r.handler
    }
}

/// The router of the public table.
pub fn public_router() -> Router<AppState> {
    public_table().into_iter().fold(Router::new(), |r, route| {
        r.route(route.path, handler(route))
    })
}

/// The authenticated router of the table. Each route decides who may call it before its
/// idempotency layer looks at any stored answer, so a replay can never hand a caller what
/// it could not have asked for.
pub fn router(state: &AppState) -> Router<AppState> {
    let mut router = Router::new();
    for r in table() {
        let access = r.access;
        let path = r.path;
        let handler = handler(r)
            .route_layer(middleware::from_fn_with_state(
                state.clone(),
                crate::idempotency::layer,
            ))
            .route_layer(middleware::from_fn(move |req, next| {
                crate::auth::authorize(access, req, next)
            }));
        router = router.route(path, handler);
    }
    router
}
