#![allow(clippy::panic)]
//! Fresh databases for tests: a new SQLite file, or a new PostgreSQL database created on
//! the server named by `PAYLINK_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`) and dropped when the handle is dropped.
//!
//! A PostgreSQL test without a PostgreSQL server fails: it never passes without having run.
//! `scripts/test` skips the PostgreSQL tests (those with `postgres` in their name) when no
//! server answers, outside `CI=true`, and says how many it skipped.

use std::path::PathBuf;

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyConnection, Connection, Executor};

use paylink_domain::id::random_base62;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestDatabase {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    File(PathBuf),
    Postgres { admin_url: String, name: String },
}

fn admin_url() -> String {
    std::env::var("PAYLINK_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A connection to the PostgreSQL server's admin database, tried for about two seconds (a
/// server still starting), then a failure that says how to run or skip the test.
async fn connect_admin(admin: &str) -> AnyConnection {
    let mut tries = 0;
    loop {
        match AnyConnection::connect(admin).await {
            Ok(conn) => return conn,
            Err(_) if tries < 10 => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            Err(e) => panic!(
                "PostgreSQL unavailable at {admin}: {e}\n\
                 This test needs PostgreSQL: start it (`. scripts/lib.sh; ensure_postgres`) or \
                 set PAYLINK_TEST_POSTGRES_URL. To skip the PostgreSQL tests instead, run \
                 `scripts/test` (it skips them when PostgreSQL does not answer, outside \
                 CI=true), or `cargo nextest run -E 'not test(/postgres/)'`, or \
                 `cargo test -- --skip postgres`."
            ),
        }
    }
}

impl TestDatabase {
    /// A fresh database; panics when PostgreSQL is unavailable.
    pub async fn create(backend: Backend) -> Self {
        let name = format!("paylink_t_{}", random_base62().to_lowercase());
        match backend {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("{name}.db"));
                Self {
                    url: format!("sqlite://{}", path.display()),
                    cleanup: Cleanup::File(path),
                }
            }
            Backend::Postgres => {
                sqlx::any::install_default_drivers();
                let admin = admin_url();
                let mut conn = connect_admin(&admin).await;
                conn.execute(format!("CREATE DATABASE {name}").as_str())
                    .await
                    .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
                let _ = conn.close().await;
                let base = admin
                    .rsplit_once('/')
                    .map_or(admin.as_str(), |(b, _)| b)
                    .to_owned();
                Self {
                    url: format!("{base}/{name}"),
                    cleanup: Cleanup::Postgres {
                        admin_url: admin,
                        name,
                    },
                }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Postgres { admin_url, name } => {
                let (admin, name) = (admin_url.clone(), name.clone());
                // Drop runs outside async: use a short-lived runtime on its own thread.
                let _ = std::thread::spawn(move || {
                    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    else {
                        return;
                    };
                    rt.block_on(async {
                        if let Ok(pool) = AnyPoolOptions::new()
                            .max_connections(1)
                            .connect(&admin)
                            .await
                        {
                            let _ = pool
                                .execute(
                                    format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str(),
                                )
                                .await;
                            pool.close().await;
                        }
                    });
                })
                .join();
            }
        }
    }
}
