//! The storage story, run against a fresh SQLite file and a fresh PostgreSQL database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use paylink_store_sql::testing::{Backend, TestDatabase};
use paylink_store_sql::{ConnectOptions, SqlStore};

/// A migrated store on a fresh database.
async fn fresh_store(backend: Backend, opts: ConnectOptions) -> (TestDatabase, SqlStore) {
    let db = TestDatabase::create(backend).await;
    let store = SqlStore::connect(&db.url, &opts).await.unwrap();
    store.migrate().await.unwrap();
    (db, store)
}

async fn run(backend: Backend) {
    let (_db, store) = fresh_store(backend, ConnectOptions::default()).await;
    // Migrating twice is a no-op.
    store.migrate().await.unwrap();
    paylink_store::conformance::story(&store).await;
    store.close().await;
}

async fn two_processes(backend: Backend) {
    let (db, a) = fresh_store(backend, ConnectOptions::default()).await;
    let b = SqlStore::connect(&db.url, &ConnectOptions::default())
        .await
        .unwrap();
    paylink_store::conformance::claims_of_dead_processes(&a, &b).await;
    paylink_store::conformance::changes_reach_other_processes(&a, &b).await;
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn claims_of_dead_processes_on_sqlite() {
    two_processes(Backend::Sqlite).await;
}

#[tokio::test]
async fn claims_of_dead_processes_on_postgres() {
    two_processes(Backend::Postgres).await;
}

#[tokio::test]
async fn story_on_sqlite() {
    run(Backend::Sqlite).await;
}

#[tokio::test]
async fn story_on_postgres() {
    run(Backend::Postgres).await;
}

/// Every SQLite connection runs with the settings the store's durability and speed rest
/// on: WAL, `synchronous = NORMAL` (durable at each commit in WAL mode, bar power loss
/// before the next checkpoint's sync), foreign keys, and statement journals in memory
/// (the group commit's savepoints otherwise wrote each page they touched to a temporary
/// file first, and created and deleted that file per group).
#[tokio::test]
async fn sqlite_connections_run_with_the_store_settings() {
    let (_db, store) = fresh_store(Backend::Sqlite, ConnectOptions::default()).await;
    let mut conn = store.pool().acquire().await.unwrap();
    for (pragma, want) in [
        ("journal_mode", "wal"),
        ("synchronous", "1"),
        ("foreign_keys", "1"),
        ("temp_store", "2"),
    ] {
        let got: String = sqlx::query_scalar(&format!(
            "SELECT CAST(\"{pragma}\" AS TEXT) FROM pragma_{pragma}"
        ))
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        assert_eq!(got, want, "PRAGMA {pragma}");
    }
    drop(conn);
    store.close().await;
}

/// Merchants and payment links are never deleted (links are soft-deleted): on PostgreSQL
/// the rows written per request carry no foreign keys to them (migration 0010), so both
/// backends refuse the delete that could orphan those rows.
async fn parents_are_never_deleted(backend: Backend) {
    use paylink_store::prelude::*;
    let (_db, store) = fresh_store(backend, ConnectOptions::default()).await;
    let m = paylink_store::conformance::merchant("Keeper");
    store.create_merchant(&m, &[]).await.unwrap();
    let t = paylink_store::Tenant::of_merchant(&m, false);
    let l = paylink_store::conformance::link(&t, "Kept", "kept-link");
    store.insert_payment_link(&t, &l, &[], None).await.unwrap();
    for (table, id) in [
        ("payment_links", l.id.as_str()),
        ("merchants", m.id.as_str()),
    ] {
        let q = format!("DELETE FROM {table} WHERE id = $1");
        let e = sqlx::query(&q).bind(id).execute(store.pool()).await;
        let msg = e.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("never deleted"), "{table}: {msg}");
        let q = format!("SELECT count(*) FROM {table} WHERE id = $1");
        let left: i64 = sqlx::query_scalar(&q)
            .bind(id)
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(left, 1, "{table}");
    }
    if backend == Backend::Postgres {
        let e = sqlx::query("TRUNCATE payment_links, merchants CASCADE")
            .execute(store.pool())
            .await;
        assert!(e.is_err(), "TRUNCATE went through");
    }
    store.close().await;
}

#[tokio::test]
async fn parents_are_never_deleted_on_sqlite() {
    parents_are_never_deleted(Backend::Sqlite).await;
}

#[tokio::test]
async fn parents_are_never_deleted_on_postgres() {
    parents_are_never_deleted(Backend::Postgres).await;
}

/// A PostgreSQL store on a fresh database, with 8 connections (2 for transactions, 6 for
/// statements on their own).
async fn postgres_store() -> (TestDatabase, SqlStore) {
    let opts = ConnectOptions {
        max_connections: 8,
        ..ConnectOptions::default()
    };
    fresh_store(Backend::Postgres, opts).await
}

/// Statements whose callers stopped waiting (a client gone mid-request) leave their
/// connections usable: every later statement reads its own answer, not a stale one.
#[tokio::test]
async fn postgres_statements_abandoned_midway_leave_usable_connections() {
    use paylink_store::prelude::*;
    use std::time::Duration;
    let (_db, store) = postgres_store().await;
    // Every read of `merchants` waits while another transaction holds this lock.
    let mut locker = store.pool().begin().await.unwrap();
    sqlx::query("LOCK TABLE merchants IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *locker)
        .await
        .unwrap();
    let id = paylink_domain::id::MerchantId::generate();
    for _ in 0..12 {
        let abandoned = tokio::time::timeout(Duration::from_millis(50), store.get_merchant(&id));
        assert!(abandoned.await.is_err(), "the read should still be waiting");
    }
    locker.commit().await.unwrap();
    for _ in 0..24 {
        assert_eq!(store.count_merchants().await.unwrap(), 0);
        assert!(matches!(
            store.get_merchant(&id).await,
            Err(paylink_store::StoreError::NotFound)
        ));
    }
    store.close().await;
}

/// Connections that PostgreSQL closed under the store fail one statement each at most,
/// and are replaced: the store does not stay broken.
#[tokio::test]
async fn postgres_connections_closed_under_the_store_are_replaced() {
    use paylink_store::prelude::*;
    let (db, store) = postgres_store().await;
    // Open every statement connection.
    let opened = (0..24).map(|_| store.count_merchants());
    for n in futures_util::future::join_all(opened).await {
        assert_eq!(n.unwrap(), 0);
    }
    let name = db.url.rsplit('/').next().unwrap().to_owned();
    let mut admin = store.pool().acquire().await.unwrap();
    let killed: i64 = sqlx::query_scalar(
        "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(name)
    .fetch_one(&mut *admin)
    .await
    .unwrap();
    drop(admin);
    assert!(killed >= 6, "only {killed} connections were open");
    // Each closed connection fails the statement that finds it closed, and only that one.
    let mut failed = 0;
    for _ in 0..6 {
        if store.count_merchants().await.is_err() {
            failed += 1;
        }
    }
    assert!(failed > 0, "no statement met a closed connection");
    for _ in 0..24 {
        assert_eq!(store.count_merchants().await.unwrap(), 0);
    }
    store.close().await;
}

/// SQLite's WAL is copied into the database file in the background (the writer itself
/// would only do it past 10,000 pages): after a burst of writes well under that, the
/// database file grows without anyone reading or closing it.
#[tokio::test]
async fn sqlite_wal_is_checkpointed_off_the_writer() {
    use paylink_store::prelude::*;
    use std::time::Duration;
    let (db, store) = fresh_store(Backend::Sqlite, ConnectOptions::default()).await;
    let path = db.url.trim_start_matches("sqlite://").to_owned();
    let size = || std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let before = size();
    // About 3 MB of rows: some 800 pages of WAL.
    for i in 0..400 {
        let m = paylink_store::conformance::merchant(&format!("M{i}{}", "x".repeat(8000)));
        store.create_merchant(&m, &[]).await.unwrap();
    }
    let mut grown = false;
    for _ in 0..50 {
        if size() > before + 2_000_000 {
            grown = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(grown, "database file stayed at {} bytes", size());
    store.close().await;
}

/// A migration that has landed (listed in `landed-migrations.txt`) is still the file that
/// landed, byte for byte: a database that ran it keeps its checksum, and sqlx refuses to
/// migrate it against a changed file. Every migration is listed, so each new one is frozen
/// as soon as it is committed.
#[test]
fn landed_migrations_are_never_edited() {
    let list = include_str!("../landed-migrations.txt");
    let mut landed = std::collections::BTreeMap::new();
    for line in list.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [backend, version, checksum] = fields[..] else {
            panic!("landed-migrations.txt: `{line}` is not `<backend> <version> <checksum>`");
        };
        let listed_before = landed.insert((backend.to_owned(), version.to_owned()), checksum);
        assert!(
            listed_before.is_none(),
            "landed-migrations.txt lists {backend} {version} twice"
        );
    }
    let mut problems = Vec::new();
    for (backend, migrator) in [
        ("sqlite", sqlx::migrate!("./migrations/sqlite")),
        ("postgres", sqlx::migrate!("./migrations/postgres")),
    ] {
        for m in migrator.iter() {
            let version = format!("{:04}", m.version);
            let checksum: String = m.checksum.iter().map(|b| format!("{b:02x}")).collect();
            let name = format!("{backend} {version} ({})", m.description);
            match landed.remove(&(backend.to_owned(), version.clone())) {
                Some(listed) if listed == checksum => {}
                Some(_) => problems.push(format!(
                    "migration {name} has landed and must never be edited; add a new \
                     migration instead"
                )),
                None => problems.push(format!(
                    "migration {name} is not in landed-migrations.txt: once it is committed, \
                     append its line there: `{backend} {version} {checksum}`"
                )),
            }
        }
    }
    for (backend, version) in landed.keys() {
        problems.push(format!(
            "migration {backend} {version} has landed and must never be edited; add a new \
             migration instead (it is missing from migrations/{backend})"
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
