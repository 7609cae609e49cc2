//! The storage story, run against a fresh SQLite file and a fresh PostgreSQL database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use paylink_store_sql::testing::{Backend, TestDatabase};
use paylink_store_sql::{ConnectOptions, SqlStore};

async fn run(backend: Backend) {
    let Some(db) = TestDatabase::create(backend).await else {
        return;
    };
    let store = SqlStore::connect(&db.url, &ConnectOptions::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    // Migrating twice is a no-op.
    store.migrate().await.unwrap();
    paylink_store::conformance::story(&store).await;
    store.close().await;
}

#[tokio::test]
async fn story_on_sqlite() {
    run(Backend::Sqlite).await;
}

#[tokio::test]
async fn story_on_postgres() {
    run(Backend::Postgres).await;
}
