//! The baselines: the least a Rust web server on this machine does for the same request.

use axum::response::Html;
use axum::routing::{get, post};
use axum::Router;

/// A 1 KiB HTML page, from memory.
pub async fn hello(port: u16) -> anyhow::Result<()> {
    let page: &'static str = Box::leak(
        format!(
            "<!doctype html><html><body><p>{}</p></body></html>",
            "x".repeat(980)
        )
        .into_boxed_str(),
    );
    let app = Router::new().route("/", get(move || async move { Html(page) }));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

/// One `INSERT … RETURNING` per request, on the same kind of database and pool.
pub async fn insert(port: u16, url: &str) -> anyhow::Result<()> {
    sqlx::any::install_default_drivers();
    let sqlite = url.starts_with("sqlite:");
    let url = if sqlite && !url.contains("mode=") {
        format!("{url}?mode=rwc")
    } else {
        url.to_owned()
    };
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(if sqlite { 1 } else { 16 })
        // As Paylink's pool: no ping before each query.
        .test_before_acquire(false)
        .connect(&url)
        .await?;
    if sqlite {
        sqlx::query("PRAGMA journal_mode = WAL")
            .execute(&pool)
            .await?;
        sqlx::query("PRAGMA synchronous = NORMAL")
            .execute(&pool)
            .await?;
    }
    let ddl = if sqlite {
        "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, amount BIGINT NOT NULL)"
    } else {
        "CREATE TABLE IF NOT EXISTS items (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name TEXT NOT NULL, amount BIGINT NOT NULL)"
    };
    sqlx::query(ddl).execute(&pool).await?;
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route(
            "/insert",
            post(move || {
                let pool = pool.clone();
                async move {
                    let row: Result<(i64,), _> = sqlx::query_as(
                        "INSERT INTO items (name, amount) VALUES ($1, $2) RETURNING id",
                    )
                    .bind("item")
                    .bind(100i64)
                    .fetch_one(&pool)
                    .await;
                    match row {
                        Ok((id,)) => (axum::http::StatusCode::CREATED, format!("{{\"id\":{id}}}")),
                        Err(e) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
                    }
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
