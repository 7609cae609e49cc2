//! The Paylink server: the merchant API, hosted pages and the background worker.
//!
//! `main.rs` only parses the command line; [`run`] serves on a listener until the
//! cancellation token fires, so tests and embedders start the real server the same way.

pub mod accounts;
pub mod api;
pub mod auth;
pub mod cache;
pub mod changes;
pub mod checkout;
pub mod cli;
pub mod config;
pub mod dashboard;
pub mod demo;
pub mod edge;
pub mod email;
pub mod error;
pub mod idempotency;
pub mod instance;
pub mod json;
pub mod listener;
pub mod locale;
pub mod nets;
pub mod openapi;
pub mod proxies;
pub mod ratelimit;
pub mod secrets;
pub mod shared_limits;
pub mod state;
pub mod stripe;
pub mod subscriptions;
pub mod views;
pub mod webhooks;
pub mod worker;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use paylink_domain::time::Timestamp;
use paylink_store::Store;
use paylink_store_sql::{ConnectOptions, SqlStore};

use crate::config::Config;
use crate::error::ApiError;
use crate::state::AppState;

/// Opens (and migrates) the configured database.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<SqlStore>> {
    if config.uses_default_sqlite() {
        std::fs::create_dir_all(&config.data_dir)?;
    }
    let opts = ConnectOptions {
        max_connections: config.db_max_connections,
        ..ConnectOptions::default()
    };
    let store = SqlStore::connect(&config.database_url(), &opts).await?;
    store.migrate().await?;
    Ok(Arc::new(store))
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    // Each route authorizes, then applies idempotency, inside these (see `routes::router`).
    let v1 = api::routes::router(&state)
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            forget_public_views,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            accounts::audit::layer,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            ratelimit::per_key,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ));
    // The customer side: no key, limited per client IP.
    let public = api::routes::public_router()
        .route(
            "/l/{slug}",
            get(checkout::pages::link_page).post(checkout::form::submit),
        )
        .route(
            "/c/{id}/authenticate",
            get(checkout::session_pages::authenticate_page)
                .post(checkout::session_pages::authenticate),
        )
        .route("/r/{id}", get(checkout::receipt_page::receipt))
        .route(
            "/s/{token}",
            get(subscriptions::self_service::page).post(subscriptions::self_service::act),
        )
        .route(
            "/login",
            get(accounts::pages::login_form).post(accounts::pages::login_submit),
        )
        .route(
            "/forgot",
            get(accounts::pages::forgot_form).post(accounts::pages::forgot_submit),
        )
        .route(
            "/reset/{token}",
            get(accounts::pages::reset_form).post(accounts::pages::reset_submit),
        )
        .route(
            "/invite/{token}",
            get(accounts::pages::invite_form).post(accounts::pages::invite_submit),
        )
        .route(
            "/logout",
            axum::routing::post(accounts::pages::logout_submit),
        )
        .route(
            "/c/{id}",
            get(checkout::session_pages::session_page)
                .post(checkout::session_pages::session_submit),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            idempotency::layer,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            ratelimit::per_ip,
        ));
    // The dashboard reads and writes through the `/v1` routes (with their layers) in this
    // process; it holds them, they do not hold it.
    let api = dashboard::client::Api(std::sync::Arc::new(v1.clone().with_state(state.clone())));
    Router::new()
        .route("/healthz", get(health))
        .route("/static/dashboard.css", get(dashboard::stylesheet))
        .route("/static/dashboard.js", get(dashboard::script))
        .merge(dashboard::routes(api))
        .route("/static/paylink.css", get(checkout::furniture::stylesheet))
        .route("/static/checkout.js", get(checkout::furniture::script))
        .route(
            "/static/stripe-checkout.js",
            get(checkout::furniture::stripe_script),
        )
        .route("/robots.txt", get(checkout::furniture::robots))
        .route("/static/favicon.svg", get(checkout::furniture::favicon))
        .route("/v1/openapi.json", get(openapi))
        // Stripe's own calls: signed, so neither the per-IP limit nor idempotency applies.
        .route(
            "/webhooks/stripe/{merchant_id}",
            axum::routing::post(stripe::webhooks::receive),
        )
        .merge(public)
        .merge(v1)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(edge::guard))
        .layer(middleware::from_fn_with_state(state.clone(), proxies::layer))
        .layer(DefaultBodyLimit::max(json::MAX_BODY))
        .layer(CatchPanicLayer::custom(|_| ApiError::internal("handler panicked").into_response()))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            tracing::info_span!("request", method = %req.method(), path = %accounts::tokens::redact_path(req.uri().path()), merchant.id = tracing::field::Empty)
        }))
        .with_state(state)
}

/// A merchant's change (a link, a product's stock, settings) is seen on this process's
/// public pages at once: every successful write through the API drops the cached views.
/// Writes are rare next to views, so dropping them all is cheaper than tracking which
/// links a change touches.
async fn forget_public_views(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
    next: middleware::Next,
) -> Response {
    let writes = req.method() != axum::http::Method::GET;
    let res = next.run(req).await;
    if writes && res.status().is_success() {
        state.links_cache.forget_all();
        changes::changed(&state);
    }
    res
}

async fn health(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    json::ok(&serde_json::json!({"status": "ok", "database": state.store.backend()}))
}

async fn openapi() -> Response {
    // The document never changes while the process runs: built once, on first request.
    static DOCUMENT: std::sync::LazyLock<String> = std::sync::LazyLock::new(openapi::json);
    let mut res = DOCUMENT.as_str().to_owned().into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

async fn not_found() -> ApiError {
    edge::framework_error(StatusCode::NOT_FOUND)
}

async fn method_not_allowed() -> ApiError {
    edge::framework_error(StatusCode::METHOD_NOT_ALLOWED)
}

/// Serves `store` on `listener` until `shutdown` is cancelled.
pub async fn serve(
    store: Arc<dyn Store>,
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    serve_state(AppState::new(store, config)?, listener, shutdown).await
}

/// Serves a prepared state (tests use it to keep a handle on the processor).
pub async fn serve_state(
    state: AppState,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    tracing::info!(addr = %listener.local_addr()?, "listening");
    // Claims this process makes name it; it is seen before the first one.
    state.store.heartbeat(Timestamp::now()).await?;
    let store = state.store.clone();
    // Beats until every request has been answered, not just until shutdown starts: a
    // request still with the processor keeps its claims.
    let beating = CancellationToken::new();
    let heartbeat = tokio::spawn(heartbeats(store.clone(), beating.clone()));
    let hearing = tokio::spawn(changes::run(state.clone(), beating.clone()));
    let state_journal = state.journal.clone();
    let flusher = tokio::spawn(views::run(
        state.views.clone(),
        state.store.clone(),
        shutdown.clone(),
    ));
    // `tap_io` only to take axum's `ConnectInfo<SocketAddr>` for any listener.
    let listener = axum::serve::ListenerExt::tap_io(listener::Edge(listener), |_| {});
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown.cancelled_owned())
    .await?;
    beating.cancel();
    // The last views are written before the process ends.
    let _ = flusher.await;
    let _ = heartbeat.await;
    let _ = hearing.await;
    // The audit entries of the last answers are written before the process ends.
    state_journal.flush().await;
    // Every request has been answered: nothing this process claimed is still in flight.
    if let Err(e) = store.retire().await {
        tracing::warn!(error = %e, "marking this process gone failed");
    }
    Ok(())
}

/// Writes this process's heartbeat every `HEARTBEAT_SECS` until `shutdown`.
async fn heartbeats(store: Arc<dyn Store>, shutdown: CancellationToken) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(
        paylink_store::HEARTBEAT_SECS,
    ));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = every.tick() => {
                if let Err(e) = store.heartbeat(Timestamp::now()).await {
                    tracing::warn!(error = %e, "writing the heartbeat failed");
                }
            }
        }
    }
}

/// Opens the database and serves until `shutdown`: what `paylink serve` does.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    let result = serve(store.clone(), config, listener, shutdown).await;
    store.close().await;
    result
}
